"""Files and directories as workflow values: ``File``, ``Dir``, staging, file systems.

See :mod:`redun.file.hash_mode` for how local files are hashed (stat or content),
:mod:`redun.file.variants` for content-hashed and immutable file families, and
:mod:`redun.file.objectstore` for what object stores share, :mod:`redun.file.s3`
for ``s3://`` paths (boto3 is imported on first use) and :mod:`redun.file.gcs`
for ``gs://`` paths (google-cloud-storage, likewise).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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
    from redun.file.objectstore import ObjectInfo, ObjectStoreFileSystem, RedunThrottledError
    from redun.file.sharded import ShardedS3Dataset
    from redun.file.staging import Staging, StagingDir, StagingFile
    from redun.file.variants import (
        ContentDir,
        ContentFile,
        ContentFileSet,
        ContentStagingDir,
        ContentStagingFile,
        IDir,
        IFile,
        IFileSet,
        IStagingDir,
        IStagingFile,
    )

# Loaded on first use: ``redun run`` reads [file] hash (redun.file.hash_mode) for
# every workflow, and most workflows never touch a file system.
_LAZY = {
    "Dir": "redun.file.dir",
    "FileSet": "redun.file.dir",
    "copy_file": "redun.file.dir",
    "File": "redun.file.file",
    "FileClasses": "redun.file.file",
    "FileStat": "redun.file.filesystem",
    "FileSystem": "redun.file.filesystem",
    "RedunFileNotFoundError": "redun.file.filesystem",
    "RedunPermissionError": "redun.file.filesystem",
    "get_filesystem": "redun.file.filesystem",
    "get_proto": "redun.file.filesystem",
    "glob_file": "redun.file.filesystem",
    "list_filesystems": "redun.file.filesystem",
    "open_file": "redun.file.filesystem",
    "register_filesystem": "redun.file.filesystem",
    "register_lazy_filesystem": "redun.file.filesystem",
    "get_default_hash_mode": "redun.file.hash_mode",
    "set_default_hash_mode": "redun.file.hash_mode",
    "LocalFileSystem": "redun.file.local",
    "ObjectInfo": "redun.file.objectstore",
    "ObjectStoreFileSystem": "redun.file.objectstore",
    "RedunThrottledError": "redun.file.objectstore",
    "ShardedS3Dataset": "redun.file.sharded",
    "Staging": "redun.file.staging",
    "StagingDir": "redun.file.staging",
    "StagingFile": "redun.file.staging",
    "ContentDir": "redun.file.variants",
    "ContentFile": "redun.file.variants",
    "ContentFileSet": "redun.file.variants",
    "ContentStagingDir": "redun.file.variants",
    "ContentStagingFile": "redun.file.variants",
    "IDir": "redun.file.variants",
    "IFile": "redun.file.variants",
    "IFileSet": "redun.file.variants",
    "IStagingDir": "redun.file.variants",
    "IStagingFile": "redun.file.variants",
}


def __getattr__(name: str) -> Any:
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module 'redun.file' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module_name), name)
    globals()[name] = value
    return value


__all__ = [
    "ContentDir",
    "ContentFile",
    "ContentFileSet",
    "ContentStagingDir",
    "ContentStagingFile",
    "Dir",
    "File",
    "FileClasses",
    "FileSet",
    "FileStat",
    "FileSystem",
    "IDir",
    "IFile",
    "IFileSet",
    "IStagingDir",
    "IStagingFile",
    "LocalFileSystem",
    "ObjectInfo",
    "ObjectStoreFileSystem",
    "RedunFileNotFoundError",
    "RedunPermissionError",
    "ShardedS3Dataset",
    "RedunThrottledError",
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
