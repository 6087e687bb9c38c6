"""The images of a dataset: a folder in the ImageFolder layout, or a ``.zip`` of one, read one file at a time.

Class subfolders give labels (``cats/a.jpg`` is labelled ``cats``; deeper folders keep the top
one's name); files at the top are unlabelled. Listing keeps paths only, and files are read and
decoded one by one, so memory does not grow with the dataset. A zip is checked from its central
directory before anything is inflated: the archive as a whole is refused with one sentence when
its directory is too large to be a dataset, and an entry that is a symbolic link, leaves the
folder (an absolute path, ``..``), is encrypted, would inflate past the image size cap or at a
bomb's ratio is skipped with one sentence. Every file then goes through ``decode_image``; a file
it refuses is skipped with its sentence, never fatal.
"""

from __future__ import annotations

import os
import stat
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Callable, Iterator

import numpy as np

from vizcore.errors import VizcoreError
from vizcore.images import MAX_FILE_BYTES, decode_fitted, decode_image

MAX_FILES = 2_000_000  # files in one dataset (a folder's or a zip's), before anything is read
MAX_ZIP_DIRECTORY_BYTES = 512 * 2**20  # the central directory of MAX_FILES entries stays well below
MAX_COMPRESSION_RATIO = 100  # image files are compressed already: a ratio above this on a large entry is a bomb
RATIO_CHECK_FLOOR_BYTES = 2**20  # small entries (a flat-colour PNG) may compress well
_ZIP_END = b"PK\x05\x06"
_ZIP64_LOCATOR = b"PK\x06\x07"
_ZIP64_END = b"PK\x06\x06"
_UNIX = 3  # ZipInfo.create_system of archives made on Unix, where external_attr holds the file mode

_MSG_LINK = "It is a symbolic link, which vizcore does not follow."
_MSG_LEAVES = "Its path leaves the dataset folder, so vizcore does not read it."
_MSG_ENCRYPTED = "It is encrypted inside the zip, so vizcore cannot read it."
_MSG_METHOD = "It is compressed with a method other than deflate, so vizcore does not inflate it."
_MSG_DAMAGED_ENTRY = "Its data inside the zip is damaged, so vizcore cannot read it."


@dataclass(frozen=True)
class ImageFile:
    """One file of a dataset: ``path`` relative to the dataset's root (``/``-separated), its folder label or None."""

    path: str
    label: str | None


@dataclass(frozen=True)
class Skipped:
    """A file left out of the index, with the one sentence that says why."""

    path: str
    reason: str

    def as_dict(self) -> dict:
        return {"path": self.path, "reason": self.reason}


class ImageSource:
    """The files of a folder or zip, listed once (paths only), each readable on its own.

    ``files`` are the candidates in a stable order (sorted paths); ``skipped`` the entries refused
    at listing. ``read(file)`` returns a file's bytes; ``decoded(files)`` yields ``(file, pixels)``
    or ``(file, Skipped)`` one at a time.
    """

    def __init__(self, location: Path, kind: str, files: list[ImageFile], skipped: list[Skipped]):
        self.location = location
        self.kind = kind  # "folder" or "zip"
        self.files = files
        self.skipped = skipped

    def read(self, file: ImageFile) -> bytes:
        raise NotImplementedError

    def entry(self, file: ImageFile) -> str:
        """The name ``reader()`` reads ``file`` by: its path in the folder, or its entry name in the zip."""
        return file.path

    def reader(self) -> EntryReader:
        """A small picklable reader of this source's entries, for other processes (Ray workers)."""
        raise NotImplementedError

    def decode(self, file: ImageFile) -> np.ndarray | Skipped:
        """The file's RGB uint8 pixels, or a Skipped with the sentence that says why not."""
        try:
            return decode_image(self.read(file))
        except VizcoreError as error:
            return Skipped(file.path, str(error))

    def decode_fitted(self, file: ImageFile, size: int) -> tuple[np.ndarray, tuple[int, int]] | Skipped:
        """``images.decode_fitted``: the file as a ``size`` px model sees it and its full (height, width), or a Skipped."""
        try:
            return decode_fitted(self.read(file), size)
        except VizcoreError as error:
            return Skipped(file.path, str(error))

    def decoded(self, files) -> Iterator[tuple[ImageFile, np.ndarray | Skipped]]:
        for file in files:
            yield file, self.decode(file)

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def open_source(location) -> ImageSource:
    """The dataset at ``location``: a folder, or a ``.zip`` file of one. Raises VizcoreError with one sentence."""
    path = Path(location)
    if path.is_dir():
        return FolderSource.open(path)
    if path.is_file():
        if not zipfile.is_zipfile(path):
            raise VizcoreError(f"{path} is neither a folder nor a zip file, so it is not a dataset vizcore can read.")
        return ZipSource.open(path)
    raise VizcoreError(f"There is no folder or zip file at {path}.")


def _label_of(parts: tuple[str, ...]) -> str | None:
    return parts[0] if len(parts) > 1 else None


def _hidden(parts) -> bool:
    return any(part.startswith(".") or part == "__MACOSX" for part in parts)


class EntryReader:
    """Reads and decodes entries of a folder or zip by ``ImageSource.entry`` name, without listing it again.

    Picklable: the zip is opened on first use in the process that reads it. Zip entries are
    checked from their directory record again before they are inflated.
    """

    def __init__(self, location: str, kind: str):
        self.location, self.kind = location, kind
        self._archive = None

    def __getstate__(self):
        return {"location": self.location, "kind": self.kind}

    def __setstate__(self, state):
        self.__init__(state["location"], state["kind"])

    def read(self, entry: str) -> bytes:
        if self.kind == "folder":
            if _leaves_folder(entry):
                raise VizcoreError(_MSG_LEAVES)
            return _read_no_follow(Path(self.location) / entry)
        if self._archive is None:
            self._archive = zipfile.ZipFile(self.location)
        try:
            info = self._archive.getinfo(entry)
        except KeyError:
            raise VizcoreError("It is no longer in the zip file.") from None
        problem = _entry_problem(info)
        if problem is not None:
            raise VizcoreError(problem)
        try:
            with self._archive.open(info) as stream:
                return stream.read(info.file_size)
        except (zipfile.BadZipFile, ValueError, OSError, EOFError, RuntimeError):
            raise VizcoreError(_MSG_DAMAGED_ENTRY) from None

    def decode(self, entry: str) -> np.ndarray | str:
        """RGB uint8 pixels, or the one sentence that says why the entry cannot be used."""
        return self._decoded(entry, decode_image)

    def decode_fitted(self, entry: str, size: int) -> tuple[np.ndarray, tuple[int, int]] | str:
        """``images.decode_fitted`` of the entry, or the one sentence that says why it cannot be used."""
        return self._decoded(entry, lambda data: decode_fitted(data, size))

    def _decoded(self, entry: str, decode: Callable):
        try:
            return decode(self.read(entry))
        except OSError as error:
            return f"It could not be read ({error.strerror or 'unreadable'})."
        except VizcoreError as error:
            return str(error)


def _is_folder(entry: os.DirEntry) -> bool:
    """A folder, or a link to one (as os.walk counts them)."""
    try:
        return entry.is_dir()
    except OSError:
        return False


def _read_no_follow(path: Path) -> bytes:
    # A file swapped for a link after listing is still not followed.
    with open(path, "rb", opener=lambda name, flags: os.open(name, flags | getattr(os, "O_NOFOLLOW", 0))) as stream:
        return stream.read(MAX_FILE_BYTES + 1)  # decode_image refuses anything longer with its sentence


class FolderSource(ImageSource):
    @classmethod
    def open(cls, root: Path) -> FolderSource:
        """The folder's files, listed with os.scandir: what each entry is comes with the listing, with no call per
        file (a million-file folder lists in seconds). Links are listed as skipped and never followed; a folder
        that cannot be listed is passed over, as os.walk does."""
        root = root.resolve()
        files, skipped = [], []
        folders = [(str(root), ())]
        while folders:
            folder, relative = folders.pop()
            try:
                with os.scandir(folder) as listing:
                    entries = list(listing)
            except OSError:
                continue
            for entry in entries:
                parts = (*relative, entry.name)
                path = "/".join(parts)
                if _is_folder(entry):
                    if entry.is_symlink():
                        skipped.append(Skipped(path, _MSG_LINK))
                    elif not _hidden((entry.name,)):
                        folders.append((entry.path, parts))
                    continue
                if _hidden(parts):
                    continue
                if entry.is_symlink():
                    skipped.append(Skipped(path, _MSG_LINK))
                elif entry.is_file(follow_symlinks=False):
                    files.append(ImageFile(path, _label_of(parts)))
                if len(files) > MAX_FILES:
                    raise VizcoreError(f"The folder holds more than {MAX_FILES:,} files, more than vizcore indexes at once.")
        files.sort(key=lambda file: file.path)
        skipped.sort(key=lambda item: item.path)
        return cls(root, "folder", files, skipped)

    def read(self, file: ImageFile) -> bytes:
        return _read_no_follow(self.location / file.path)

    def reader(self) -> EntryReader:
        return EntryReader(str(self.location), "folder")

    def decode(self, file: ImageFile) -> np.ndarray | Skipped:
        try:
            return decode_image(self.read(file))
        except OSError as error:
            return Skipped(file.path, f"It could not be read ({error.strerror or 'unreadable'}).")
        except VizcoreError as error:
            return Skipped(file.path, str(error))


def _zip_directory_size(path: Path) -> tuple[int, int]:
    """(entries, directory bytes) from the end-of-central-directory records, read before zipfile parses anything."""
    with open(path, "rb") as stream:
        stream.seek(0, os.SEEK_END)
        length = stream.tell()
        tail_start = max(0, length - 22 - 65535 - 20)
        stream.seek(tail_start)
        tail = stream.read()
        end = tail.rfind(_ZIP_END)
        if end < 0 or len(tail) < end + 22:
            raise VizcoreError(f"{path.name} is a damaged zip archive, so vizcore cannot read it.")
        entries = int.from_bytes(tail[end + 10 : end + 12], "little")
        directory = int.from_bytes(tail[end + 12 : end + 16], "little")
        locator = tail.rfind(_ZIP64_LOCATOR, max(0, end - 20), end)
        if locator >= 0:
            stream.seek(int.from_bytes(tail[locator + 8 : locator + 16], "little"))
            record = stream.read(56)
            if not record.startswith(_ZIP64_END) or len(record) < 56:
                raise VizcoreError(f"{path.name} is a damaged zip archive, so vizcore cannot read it.")
            entries = int.from_bytes(record[32:40], "little")
            directory = int.from_bytes(record[40:48], "little")
    return entries, directory


def _leaves_folder(name: str) -> bool:
    if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        return True
    return ".." in name.replace("\\", "/").split("/")


def _entry_problem(entry: zipfile.ZipInfo) -> str | None:
    """Why an entry is not read, from its directory record alone; None when it may be inflated."""
    if entry.create_system == _UNIX and stat.S_ISLNK(entry.external_attr >> 16):
        return _MSG_LINK
    if _leaves_folder(entry.filename):
        return _MSG_LEAVES
    if entry.flag_bits & 0x1:
        return _MSG_ENCRYPTED
    if entry.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        return _MSG_METHOD
    if entry.file_size > MAX_FILE_BYTES:
        return (f"It would inflate to {entry.file_size / 2**20:,.0f} MB, more than the "
                f"{MAX_FILE_BYTES // 2**20} MB vizcore accepts for an image.")
    if entry.file_size > RATIO_CHECK_FLOOR_BYTES and entry.file_size > MAX_COMPRESSION_RATIO * max(entry.compress_size, 1):
        return (f"It would inflate {entry.file_size // max(entry.compress_size, 1):,} times "
                "(a zip bomb), so vizcore does not inflate it.")
    return None


class ZipSource(ImageSource):
    @classmethod
    def open(cls, path: Path) -> ZipSource:
        path = path.resolve()
        entries, directory = _zip_directory_size(path)
        if entries > MAX_FILES or directory > MAX_ZIP_DIRECTORY_BYTES:
            raise VizcoreError(f"{path.name} lists {entries:,} files, more than vizcore indexes at once.")
        try:
            archive = zipfile.ZipFile(path)
            infos = archive.infolist()
        except (zipfile.BadZipFile, ValueError, OSError, EOFError):
            raise VizcoreError(f"{path.name} is a damaged zip archive, so vizcore cannot read it.") from None
        named = [(info.filename.replace("\\", "/"), info) for info in infos if not info.is_dir()]
        root = _common_root([name for name, info in named if not _leaves_folder(name)])
        files, skipped, by_path = [], [], {}
        for name, info in named:
            parts = PurePosixPath(name).parts
            inside = parts[len(root):] if parts[: len(root)] == root else parts
            problem = _entry_problem(info)
            if problem is not None:
                skipped.append(Skipped(name, problem))
                continue
            if _hidden(inside):
                continue
            path_text = "/".join(inside)
            if path_text not in by_path:
                by_path[path_text] = info
                files.append(ImageFile(path_text, _label_of(inside)))
        files.sort(key=lambda file: file.path)
        skipped.sort(key=lambda item: item.path)
        source = cls(path, "zip", files, skipped)
        source._archive, source._infos = archive, by_path
        return source

    def read(self, file: ImageFile) -> bytes:
        info = self._infos[file.path]
        try:
            with self._archive.open(info) as stream:
                return stream.read(info.file_size)  # zipfile stops at the declared size and checks the CRC
        except (zipfile.BadZipFile, ValueError, OSError, EOFError, RuntimeError):
            raise VizcoreError(_MSG_DAMAGED_ENTRY) from None

    def entry(self, file: ImageFile) -> str:
        return self._infos[file.path].filename

    def reader(self) -> EntryReader:
        return EntryReader(str(self.location), "zip")

    def close(self) -> None:
        self._archive.close()


def _common_root(names: list[str]) -> tuple[str, ...]:
    """The one top folder every entry sits in (a zip of a folder), else ()."""
    tops = {PurePosixPath(name).parts[0] for name in names if len(PurePosixPath(name).parts) > 1}
    if len(tops) == 1 and all(len(PurePosixPath(name).parts) > 1 for name in names):
        top = tops.pop()
        # A folder of class folders zipped: its root. A zip of class folders: the classes are not a root.
        if any(len(PurePosixPath(name).parts) > 2 for name in names):
            return (top,)
    return ()
