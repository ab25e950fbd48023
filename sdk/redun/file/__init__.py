"""Files and directories as workflow values: ``File``, ``Dir``, staging, file systems.

See :mod:`redun.file.hash_mode` for how local files are hashed (stat or content),
:mod:`redun.file.variants` for content-hashed and immutable file families, and
:mod:`redun.file.objectstore` for what object stores share, :mod:`redun.file.s3`
for ``s3://`` paths (boto3 is imported on first use) and :mod:`redun.file.gcs`
for ``gs://`` paths (google-cloud-storage, likewise).
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
