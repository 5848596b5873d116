"""AI assistants on customer channels: the composition of the AI core (models, quota,
usage) and the inbox (conversations, the sending path, handover). Other contexts never
import this one (an import-linter contract); the inbox reaches it through its own ports
(`ChannelBots`, the `BOT_REPLY_JOB` job)."""
