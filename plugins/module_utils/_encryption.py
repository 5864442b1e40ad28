# -*- coding: utf-8 -*-

# Copyright (c) 2025, Inventory Enterprise operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""age encryption of off-site copies (https://age-encryption.org/v1) through the Python library pyrage.

Files are streamed through pyrage's encrypt_io/decrypt_io in its 64 KiB chunks, so memory stays flat
whatever the archive size; the output is hashed while it is written. age is authenticated: a wrong key,
an altered header and an altered or truncated payload are all refused, and raised here as EncryptionError
with a message that says which of them it was. Secret keys never appear in a message.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import re
import traceback

from ansible_collections.inventory_enterprise.ops.plugins.module_utils import _archive, _backup_records, _files

PYRAGE_IMP_ERR = None
try:
    import pyrage
    from pyrage import x25519
    HAS_PYRAGE = True
except ImportError:
    PYRAGE_IMP_ERR = traceback.format_exc()
    HAS_PYRAGE = False

SUFFIX = _backup_records.ENCRYPTED_SUFFIX
CHECKSUM_SUFFIX = '.sha256'
MAGIC = b'age-encryption.org/v1\n'


class EncryptionError(Exception):
    """What failed, where, and what to do (never containing a secret key)."""


def parse_identities(text):
    """X25519 identities from `text`: one or more AGE-SECRET-KEY-1... lines; comment lines (``#``) and blank
    lines are skipped, so the content of an age-keygen key file can be used as it is."""
    identities = []
    for number, line in enumerate((text or '').splitlines(), 1):
        line = line.strip()
        if not line or line.startswith('#'):
            continue
        try:
            identities.append(x25519.Identity.from_str(line))
        except Exception:  # pyrage.IdentityError; its text could echo the key
            raise EncryptionError('line %d of the identity is not an age X25519 secret key (AGE-SECRET-KEY-1...): '
                                  'generate one with age-keygen and store the whole line' % number)
    return identities


def parse_recipients(keys):
    recipients = []
    for key in keys or []:
        key = key.strip()
        try:
            recipients.append(x25519.Recipient.from_str(key))
        except Exception:  # pyrage.RecipientError
            raise EncryptionError('%r is not an age X25519 public key (age1...): use the "public key" line '
                                  'age-keygen printed, or age-keygen -y KEYFILE' % key[:80])
    return recipients


def public_key(identity):
    return str(identity.to_public())


def is_age_file(path):
    with open(path, 'rb') as handle:
        return handle.read(len(MAGIC)) == MAGIC


def _decrypt_error(exc, src):
    text = str(exc)
    if isinstance(exc, OSError) and exc.errno is not None:
        return None  # a real I/O error of our own writer: reported by the caller
    if 'No matching keys' in text:
        return ('no identity matches %s: it was encrypted for another key (or its recipient lines were '
                'altered). Use the identity whose public key it was encrypted to (backup_offsite_encryption_identity)'
                % src)
    if 'Header MAC' in text or 'Unknown age format' in text:
        return '%s has an altered age header (header MAC invalid): it was tampered with or damaged; ' \
               'use another copy' % src
    if 'decryption error' in text:
        return ('%s failed authentication: its content was altered or truncated after encryption; nothing was '
                'written. Fetch the copy again or use an older one' % src)
    return '%s cannot be decrypted: %s' % (src, text)


def _open_src(src):
    try:
        handle = open(src, 'rb')
    except (IOError, OSError) as exc:
        raise EncryptionError('cannot read %s: %s' % (src, exc.strerror or exc))
    return handle


def decrypt_digest(src, identities):
    """(sha256, size) of the plaintext of `src`, authenticated, without writing anything."""
    with _open_src(src) as reader:
        if reader.read(len(MAGIC)) != MAGIC:
            raise EncryptionError('%s is not an age-encrypted file (no age-encryption.org/v1 header)' % src)
        reader.seek(0)
        sink = _files.HashingWriter()
        try:
            pyrage.decrypt_io(reader, sink, identities)
        except (pyrage.DecryptError, OSError) as exc:
            raise EncryptionError(_decrypt_error(exc, src) or 'reading %s failed: %s' % (src, exc))
    return sink.sha256.hexdigest(), sink.size


def partial_name(dest):
    return os.path.join(os.path.dirname(dest), '.%s.partial-%d' % (os.path.basename(dest), os.getpid()))


def stale_partials(dest):
    """Partial outputs for `dest` left by killed runs (their pid is gone)."""
    pattern = re.compile(r'^\.%s\.partial-(\d+)$' % re.escape(os.path.basename(dest)))
    return _archive.stale_leftovers(os.path.dirname(dest) or '.', pattern)


def _write_atomically(dest, work):
    """Run work(writer) into a fresh 0600 partial file, fsync it, rename it over `dest`, fsync the directory.
    Returns (sha256, size) of what was written; the partial file is removed on any failure."""
    tmp = partial_name(dest)
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, 'O_NOFOLLOW', 0), 0o600)
    except OSError as exc:
        raise EncryptionError('cannot create %s: %s; check that the directory exists and is writable'
                              % (tmp, exc.strerror or exc))
    try:
        with os.fdopen(fd, 'wb', _files.CHUNK) as handle:
            writer = _files.HashingWriter(handle)
            work(writer)
            handle.flush()
            os.fsync(handle.fileno())
        os.rename(tmp, dest)
    except BaseException:
        _files.remove_path(tmp)
        raise
    _files.fsync_dir(os.path.dirname(dest) or '.')
    return writer.sha256.hexdigest(), writer.size


def _io_failure(exc, dest):
    hint = _files.no_space_hint(exc, os.path.dirname(dest))
    return 'writing %s failed: %s%s' % (dest, getattr(exc, 'strerror', None) or exc, '; ' + hint if hint else '')


def _stream(dest, work, library_error, describe):
    """Run work(writer) into `dest` atomically; a library or I/O error becomes an EncryptionError."""
    try:
        return _write_atomically(dest, work)
    except EncryptionError:
        raise
    except (library_error, OSError, IOError) as exc:
        raise EncryptionError(describe(exc))


def encrypt_file(src, dest, recipients):
    """Encrypt `src` to `dest` for `recipients` (parsed). Returns (sha256, size) of `dest`."""
    with _open_src(src) as reader:
        return _stream(dest, lambda writer: pyrage.encrypt_io(reader, writer, recipients), pyrage.EncryptError,
                       lambda exc: _io_failure(exc, dest))


def decrypt_file(src, dest, identities):
    """Decrypt `src` to `dest`, authenticated; `dest` only appears when every chunk checked out."""
    with _open_src(src) as reader:
        if reader.read(len(MAGIC)) != MAGIC:
            raise EncryptionError('%s is not an age-encrypted file (no age-encryption.org/v1 header)' % src)
        reader.seek(0)
        return _stream(dest, lambda writer: pyrage.decrypt_io(reader, writer, identities), pyrage.DecryptError,
                       lambda exc: _decrypt_error(exc, src) or _io_failure(exc, dest))


def checksum_path(copy):
    """The ``sha256sum`` file written next to an off-site copy once its transfer was checked."""
    return copy + CHECKSUM_SUFFIX


def check_copy(copy):
    """Where no key is (the backup server): an encrypted copy is good when it is an age file and its SHA-256
    is the one recorded when its transfer was checked. Returns (sha256, None) or (None, reason)."""
    try:
        with open(checksum_path(copy)) as handle:
            recorded = handle.read(200).split()
    except (IOError, OSError) as exc:
        return None, 'no checksum file %s (%s): its transfer was never confirmed' % (checksum_path(copy),
                                                                                     exc.strerror or exc)
    try:
        if not is_age_file(copy):
            return None, 'not an age-encrypted file'
        actual = _files.sha256_file(copy)
    except (IOError, OSError) as exc:
        return None, 'cannot read it: %s' % (exc.strerror or exc)
    if not recorded or recorded[0] != actual:
        return None, 'SHA-256 %s differs from the recorded %s: damaged since its transfer' % (
            actual, recorded[0] if recorded else 'nothing')
    return actual, None
