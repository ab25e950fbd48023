"""Files and directories as workflow values: ``File``, ``Dir``, staging, file systems.

See :mod:`redun.file.hash_mode` for how local files are hashed (stat or content).
"""

from redun.file.dir import Dir, FileSet, copy_file
from redun.file.file import File, FileClasses
from redun.file.filesystem import (
    FileStat,
    FileSystem,
    RedunFileNotFoundError,
    RedunPermissionError,
    get_filesystem,
    get_proto,
    glob_file,
    list_filesystems,
    open_file,
    register_filesystem,
    register_lazy_filesystem,
)
from redun.file.hash_mode import get_default_hash_mode, set_default_hash_mode
from redun.file.local import LocalFileSystem
from redun.file.staging import Staging, StagingDir, StagingFile

__all__ = [
    "Dir",
    "File",
    "FileClasses",
    "FileSet",
    "FileStat",
    "FileSystem",
    "LocalFileSystem",
    "RedunFileNotFoundError",
    "RedunPermissionError",
    "Staging",
    "StagingDir",
    "StagingFile",
    "copy_file",
    "get_default_hash_mode",
    "get_filesystem",
    "get_proto",
    "glob_file",
    "list_filesystems",
    "open_file",
    "register_filesystem",
    "register_lazy_filesystem",
    "set_default_hash_mode",
]
