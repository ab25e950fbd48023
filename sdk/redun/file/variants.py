"""File families with other hashing rules: content-hashed and immutable files.

* ``ContentFile``/``ContentDir``/``ContentFileSet`` always hash by content,
  whatever the default mode.
* ``IFile``/``IDir``/``IFileSet`` are *immutable*: written once, never changed.
  Their hash is their path alone (no I/O) and they are always valid, so a
  workflow over millions of write-once objects never stats them.

Each family makes more of its own kind: ``ContentDir.files()`` are
``ContentFile``s, ``IFile.stage()`` gives an ``IStagingFile``.
"""

from __future__ import annotations

from typing import Any

from redun.file.dir import Dir, FileSet
from redun.file.file import File, FileClasses, PathLike
from redun.file.staging import StagingDir, StagingFile
from redun.hashing import hash_parts


class ContentFileClasses(FileClasses):
    """The content-hashed family."""

    def __getattr__(self, attr: str) -> type:
        family = {
            "File": ContentFile,
            "FileSet": ContentFileSet,
            "Dir": ContentDir,
            "StagingFile": ContentStagingFile,
            "StagingDir": ContentStagingDir,
        }
        if attr in family:
            return family[attr]
        raise AttributeError(attr)


class ContentFile(File):
    """A File always hashed by the digest of its bytes."""

    type_basename = "ContentFile"
    type_name = "redun.ContentFile"
    classes = ContentFileClasses()

    def __init__(self, path: PathLike, hash: str | None = None, **kwargs: Any) -> None:
        super().__init__(path, hash, content_hash=True)


class ContentFileSet(FileSet):
    """A FileSet whose files are hashed by content."""

    type_basename = "ContentFileSet"
    type_name = "redun.ContentFileSet"
    classes = ContentFileClasses()

    def __init__(self, pattern: PathLike, hash: str | None = None, **kwargs: Any) -> None:
        super().__init__(pattern, hash, content_hash=True)


class ContentDir(Dir):
    """A Dir whose files are hashed by content."""

    type_basename = "ContentDir"
    type_name = "redun.ContentDir"
    classes = ContentFileClasses()

    def __init__(self, path: PathLike, hash: str | None = None, **kwargs: Any) -> None:
        super().__init__(path, hash, content_hash=True)


class ContentStagingFile(StagingFile):
    type_basename = "ContentStagingFile"
    type_name = "redun.ContentStagingFile"
    classes = ContentFileClasses()


class ContentStagingDir(StagingDir):
    type_basename = "ContentStagingDir"
    type_name = "redun.ContentStagingDir"
    classes = ContentFileClasses()


class IFileClasses(FileClasses):
    """The immutable family."""

    def __getattr__(self, attr: str) -> type:
        family = {
            "File": IFile,
            "FileSet": IFileSet,
            "Dir": IDir,
            "StagingFile": IStagingFile,
            "StagingDir": IStagingDir,
        }
        if attr in family:
            return family[attr]
        raise AttributeError(attr)


class IFile(File):
    """A write-once File: hashed by its path only, and always valid."""

    type_basename = "IFile"
    type_name = "redun.IFile"
    classes = IFileClasses()

    def _calc_hash(self) -> str:
        return hash_parts(self.type_basename, self.path)

    def is_valid(self) -> bool:
        return True


class IFileSet(FileSet):
    """A FileSet of write-once files: hashed by its pattern only, and always valid."""

    type_basename = "IFileSet"
    type_name = "redun.IFileSet"
    classes = IFileClasses()

    def _calc_hash(self) -> str:
        return hash_parts(self.type_basename, self.pattern)

    def is_valid(self) -> bool:
        return True


class IDir(Dir):
    """A write-once directory: hashed by its path only, and always valid."""

    type_basename = "IDir"
    type_name = "redun.IDir"
    classes = IFileClasses()

    def _calc_hash(self) -> str:
        return hash_parts(self.type_basename, self.path)

    def is_valid(self) -> bool:
        return True


class IStagingFile(StagingFile):
    type_basename = "IStagingFile"
    type_name = "redun.IStagingFile"
    classes = IFileClasses()


class IStagingDir(StagingDir):
    type_basename = "IStagingDir"
    type_name = "redun.IStagingDir"
    classes = IFileClasses()
