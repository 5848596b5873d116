"""Hand-written fakes of the ports, one module per port family, for unit tests.

Each fake subclasses the port (a Protocol) it stands for, so mypy checks that it keeps
the port's signatures and leaves none of its methods out. A fake keeps what a test wants
to look at (`rows`, `sent`, `entries`, ...) in plain attributes; what no test needs raises
`NotImplementedError`.
"""
