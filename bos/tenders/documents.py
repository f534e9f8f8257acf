"""Uploaded document files: content-addressed storage on disk, and who may read a file.

A file is stored once under its SHA-256 (computed while it streams to disk), read-only, so a published file can
never change behind its URL: a new version is a new file and a new URL. ``Document.sha256`` and ``Document.format``
(the MIME type) describe it. A file is public once a published section (plan, tender, award, signed contract)
refers to it; until then only the buyer's officers of a process referring to it may read it.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from bos.accounts.models import User
from bos.contracts.models import Contract
from bos.exceptions import NotFound
from bos.permissions import can_view_drafts
from bos.tenders.models import Document

CHUNK = 64 * 1024
SHA256_PATTERN = re.compile(r"^[0-9a-f]{64}$")

# Allowed files by extension: the MIME type stored as the OCDS ``format`` and the leading bytes the content must
# start with, so that a renamed file of another kind is refused with a clear message instead of served.
ZIP = (b"PK\x03\x04",)  # docx, xlsx, odt, ods are zip containers
OLE = (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",)  # legacy doc, xls
ALLOWED_TYPES: dict[str, tuple[str, tuple[bytes, ...]]] = {
    "pdf": ("application/pdf", (b"%PDF-",)),
    "png": ("image/png", (b"\x89PNG\r\n\x1a\n",)),
    "jpg": ("image/jpeg", (b"\xff\xd8\xff",)),
    "jpeg": ("image/jpeg", (b"\xff\xd8\xff",)),
    "docx": ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", ZIP),
    "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", ZIP),
    "odt": ("application/vnd.oasis.opendocument.text", ZIP),
    "ods": ("application/vnd.oasis.opendocument.spreadsheet", ZIP),
    "doc": ("application/msword", OLE),
    "xls": ("application/vnd.ms-excel", OLE),
}
ALLOWED_FORMATS = {mime for mime, _magic in ALLOWED_TYPES.values()}
EXTENSIONS = {mime: extension for extension, (mime, _magic) in reversed(ALLOWED_TYPES.items())}


class UploadRefused(Exception):
    """An upload that is too large, empty or of a kind not accepted; ``message`` is for the officer."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class StoredFile:
    sha256: str
    format: str
    size: int


@dataclass(frozen=True)
class DocumentStore:
    """The upload directory and the size limit (``BOS_UPLOAD_DIR``, ``BOS_UPLOAD_MAX_BYTES``)."""

    directory: Path
    max_bytes: int

    @classmethod
    def from_config(cls, config: Any) -> DocumentStore:
        return cls(Path(config["UPLOAD_DIR"]), int(config["UPLOAD_MAX_BYTES"]))

    def path(self, sha256: str) -> Path:
        if not SHA256_PATTERN.match(sha256):
            raise NotFound(_("No such file."))
        return self.directory / sha256[:2] / sha256

    def has(self, sha256: str) -> bool:
        return bool(SHA256_PATTERN.match(sha256)) and self.path(sha256).is_file()

    def store(self, stream: IO[bytes], filename: str) -> StoredFile:
        """Copy an upload to its content address, hashing it on the way; refuse it before anything is kept."""
        extension = filename.rpartition(".")[2].lower() if "." in filename else ""
        if extension not in ALLOWED_TYPES:
            raise UploadRefused(
                _("Files of this type are not accepted. Allowed: %(types)s.", types=", ".join(sorted(ALLOWED_TYPES)))
            )
        mime, magic = ALLOWED_TYPES[extension]
        incoming = self.directory / "incoming"
        incoming.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        size = 0
        # The temporary file sits in the same file system as its destination, so the final rename is atomic.
        with tempfile.NamedTemporaryFile(dir=incoming, delete=False) as tmp:
            tmp_path = Path(tmp.name)
            try:
                while chunk := stream.read(CHUNK):
                    if size == 0 and not chunk.startswith(magic):
                        raise UploadRefused(_("The file's content is not a %(type)s file.", type=extension.upper()))
                    size += len(chunk)
                    if size > self.max_bytes:
                        raise UploadRefused(
                            _("The file is larger than the limit of %(size)s MB.", size=self.max_bytes // 2**20)
                        )
                    digest.update(chunk)
                    tmp.write(chunk)
            except BaseException:
                tmp.close()
                tmp_path.unlink(missing_ok=True)
                raise
        if size == 0:
            tmp_path.unlink(missing_ok=True)
            raise UploadRefused(_("The file is empty."))
        sha256 = digest.hexdigest()
        target = self.path(sha256)
        if target.exists():  # the same bytes were uploaded before: one copy is enough
            tmp_path.unlink()
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp_path.chmod(0o444)  # read-only: a stored file never changes
            os.replace(tmp_path, target)
        return StoredFile(sha256, mime, size)


def extension_of(mime: str | None) -> str:
    return EXTENSIONS.get(mime or "", "bin")


def is_public(session: Session, document: Document) -> bool:
    """Whether the section the document belongs to has been published."""
    process = document.process
    if process.planning is None or process.planning.date_published is None:
        return False
    if document.section == "planning":
        return True
    if document.section == "tender":
        return process.tender is not None and process.tender.date_published is not None
    if document.section == "contract":
        contract = session.get(Contract, document.contract_id) if document.contract_id is not None else None
        return contract is not None and contract.date_signed is not None
    return document.section == "award"  # awards are published when they are made


@dataclass(frozen=True)
class Readable:
    path: Path
    document: Document
    public: bool


def readable_file(session: Session, store: DocumentStore, actor: User | None, sha256: str) -> Readable:
    """The stored file with this hash if the actor may read it: public once published, drafts for their officers."""
    documents = session.scalars(select(Document).where(Document.sha256 == sha256).order_by(Document.id)).all()
    public = [d for d in documents if is_public(session, d)]
    readable = public or [d for d in documents if can_view_drafts(actor, d.process)]
    if not readable or not store.has(sha256):
        raise NotFound(_("No such file."))
    return Readable(store.path(sha256), readable[0], bool(public))
