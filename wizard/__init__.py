"""AgentMemory Migration Wizard: bring mem0, OpenMemory, Letta and agentmemory exports into
agentmemory's store."""

from importlib import metadata

try:
    __version__ = metadata.version("agentmemory-wizard")
except metadata.PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.3.0"

APP_NAME = "agentmemory-wizard"
