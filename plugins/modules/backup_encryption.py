#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright (c) 2025, Inventory Enterprise operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: backup_encryption
short_description: Encrypt a backup archive for its off-site copy with age, or decrypt one
version_added: 0.1.0
description:
  - Encrypts a file with L(age, https://age-encryption.org/v1) (X25519 keys, through the Python library
    C(pyrage)) before it leaves the host, or decrypts an encrypted copy, so the archives that hold C(.env) and
    the whole database are never stored or staged off-site as plaintext.
  - The file is streamed in 64 KiB chunks (memory stays flat for a 1 GiB archive) into a hidden C(0600)
    partial file next to O(dest), fsynced and renamed; a failure or a killed run never leaves a file named
    O(dest), and the next run removes the partial files of killed runs.
  - age is authenticated. Decryption refuses, with a message saying which, a file encrypted for another key, an
    altered header and an altered or truncated payload; nothing is written then.
  - O(state=encrypted) with O(identity) is idempotent - an existing O(dest) that decrypts to exactly O(src) is
    kept. With O(recipients) alone the module cannot read O(dest), so it encrypts again (age output is
    randomised, so every encryption is a change).
  - O(state=decrypted) keeps an existing O(dest) whose content equals the plaintext of O(src).
author:
  - Inventory Enterprise operations team (@inventory-enterprise)
extends_documentation_fragment:
  - inventory_enterprise.ops.attributes
attributes:
  check_mode:
    support: full
    details:
      - Check mode writes nothing. O(state=decrypted) still decrypts O(src) in memory chunk by chunk, so a wrong
        key or a tampered copy fails in check mode too.
  diff_mode:
    support: none
options:
  state:
    description:
      - V(encrypted) encrypts O(src) to O(dest) for O(recipients) (and the public key of O(identity)).
      - V(decrypted) decrypts the age file O(src) to O(dest) with O(identity).
    type: str
    choices: [encrypted, decrypted]
    default: encrypted
  src:
    description: The file to encrypt, or the age file to decrypt.
    type: path
    required: true
  dest:
    description:
      - The file to write, in an existing directory, mode C(0600).
      - Default O(src) with C(.age) appended (V(encrypted)), or O(src) without its C(.age) suffix (V(decrypted)).
    type: path
  recipients:
    description:
      - age X25519 public keys (C(age1...)) to encrypt to; any one of their secret keys decrypts.
      - With O(state=encrypted), O(recipients) or O(identity) (or both) must be given.
    type: list
    elements: str
    default: []
  identity:
    description:
      - age X25519 secret key(s) (C(AGE-SECRET-KEY-1...)), one per line; comment lines starting with C(#) are
        skipped, so the content of an C(age-keygen) key file works as it is. Secret, never logged or returned.
      - Required with O(state=decrypted). With O(state=encrypted) its public key is added to O(recipients) and
        it lets an existing O(dest) be checked.
    type: str
requirements:
  - pyrage (Python library, age for Python) on the managed host.
notes:
  - Copies made by C(age -r age1... -o FILE.age FILE) and C(age -d -i KEYFILE FILE.age) are interchangeable
    with this module's.
seealso:
  - module: inventory_enterprise.ops.backup
  - name: age file format v1
    description: The C2SP specification of the age format.
    link: https://age-encryption.org/v1
'''

EXAMPLES = r'''
- name: Encrypt the archive for the off-site copy (public key only on the app host)
  inventory_enterprise.ops.backup_encryption:
    src: /opt/inventory-enterprise/backups/inventory_backup_2025-01-07T02-00-00.tar.zst
    recipients:
      - age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p

- name: Decrypt an off-site copy on the standby
  inventory_enterprise.ops.backup_encryption:
    state: decrypted
    src: /opt/inventory-enterprise/backups/inventory_backup_2025-01-07T02-00-00.tar.zst.age
    identity: "{{ backup_offsite_encryption_identity }}"
  no_log: true
'''

RETURN = r'''
src:
  description: The file that was read.
  returned: always
  type: str
  sample: /opt/inventory-enterprise/backups/inventory_backup_2025-01-07T02-00-00.tar.zst
dest:
  description: The file written, or kept because it was already up to date.
  returned: always
  type: str
  sample: /opt/inventory-enterprise/backups/inventory_backup_2025-01-07T02-00-00.tar.zst.age
sha256:
  description:
    - SHA-256 of O(dest) (for O(state=encrypted), of the encrypted file - what the off-site hops check).
    - For O(state=decrypted) in check mode, of the plaintext O(dest) would get.
  returned: unless check mode predicts that an encrypted O(dest) would be written
  type: str
  sample: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
size:
  description: Size of O(dest) in bytes (as for RV(sha256)).
  returned: unless check mode predicts that an encrypted O(dest) would be written
  type: int
  sample: 1048576
recipients:
  description: Public keys O(dest) is encrypted to.
  returned: when O(state=encrypted)
  type: list
  elements: str
  sample: [age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p]
partials_removed:
  description: Partial files of killed runs next to O(dest) that were removed (in check mode, that would be).
  returned: always
  type: list
  elements: str
msg:
  description: What was done.
  returned: always
  type: str
'''

import os

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.inventory_enterprise.ops.plugins.module_utils import _encryption, _files
from ansible_collections.inventory_enterprise.ops.plugins.module_utils._encryption import EncryptionError


def create_module():
    return AnsibleModule(
        argument_spec=dict(
            state=dict(type='str', choices=['encrypted', 'decrypted'], default='encrypted'),
            src=dict(type='path', required=True),
            dest=dict(type='path'),
            recipients=dict(type='list', elements='str', default=[]),
            identity=dict(type='str', no_log=True),
        ),
        required_if=[('state', 'decrypted', ['identity'])],
        supports_check_mode=True)


def default_dest(module, src, state):
    if state == 'encrypted':
        return src + _encryption.SUFFIX
    if not src.endswith(_encryption.SUFFIX):
        module.fail_json(msg='dest is required: %s does not end with %s, so the decrypted name cannot be derived'
                         % (src, _encryption.SUFFIX), changed=False)
    return src[:-len(_encryption.SUFFIX)]


def encrypt(module, src, dest, result):
    identities = _encryption.parse_identities(module.params['identity'])
    recipients = _encryption.parse_recipients(module.params['recipients'])
    keys = [str(r) for r in recipients]
    for identity in identities:
        if _encryption.public_key(identity) not in keys:
            recipients.append(identity.to_public())
            keys.append(_encryption.public_key(identity))
    if not recipients:
        module.fail_json(msg='state=encrypted needs recipients (age1... public keys) or identity: set '
                             'backup_offsite_encryption_recipients or backup_offsite_encryption_identity', **result)
    result['recipients'] = keys
    if os.path.isfile(dest) and identities and _encryption.is_age_file(dest):
        try:
            digest = _encryption.decrypt_digest(dest, identities)[0]
        except EncryptionError:
            digest = None  # damaged or for other keys: encrypted again below
        if digest == _files.sha256_file(src):
            result.update(sha256=_files.sha256_file(dest), size=os.path.getsize(dest),
                          msg='%s already holds %s, encrypted to these recipients' % (dest, src))
            return result
    result['changed'] = True
    if module.check_mode:
        result['msg'] = 'would encrypt %s to %s' % (src, dest)
        return result
    sha256, size = _encryption.encrypt_file(src, dest, recipients)
    result.update(sha256=sha256, size=size, msg='encrypted %s to %s (%d bytes) for %d recipient(s)'
                  % (src, dest, size, len(recipients)))
    return result


def decrypt(module, src, dest, result):
    identities = _encryption.parse_identities(module.params['identity'])
    if not identities:
        module.fail_json(msg='identity holds no AGE-SECRET-KEY-1... line: set backup_offsite_encryption_identity',
                         **result)
    if module.check_mode or os.path.isfile(dest):
        sha256, size = _encryption.decrypt_digest(src, identities)
        if os.path.isfile(dest) and _files.sha256_file(dest) == sha256:
            result.update(sha256=sha256, size=size, msg='%s already holds the plaintext of %s' % (dest, src))
            return result
        if module.check_mode:
            result.update(changed=True, sha256=sha256, size=size,
                          msg='would decrypt %s to %s (authenticated: the key matches, nothing altered)'
                          % (src, dest))
            return result
    sha256, size = _encryption.decrypt_file(src, dest, identities)
    result.update(changed=True, sha256=sha256, size=size,
                  msg='decrypted %s to %s (%d bytes, authenticated)' % (src, dest, size))
    return result


def run_module(module):
    params = module.params
    src = params['src']
    dest = params['dest'] or default_dest(module, src, params['state'])
    result = dict(changed=False, src=src, dest=dest, partials_removed=[])
    if not _encryption.HAS_PYRAGE:
        module.fail_json(msg=missing_required_lib('pyrage', reason='to encrypt and decrypt off-site copies (age)'),
                         exception=_encryption.PYRAGE_IMP_ERR, **result)
    if not os.path.isfile(src):
        module.fail_json(msg='%s does not exist or is not a regular file' % src, **result)
    if os.path.abspath(src) == os.path.abspath(dest):
        module.fail_json(msg='src and dest are the same file %s: choose another dest' % src, **result)
    if not os.path.isdir(os.path.dirname(dest) or '.'):
        module.fail_json(msg='the directory of dest %s does not exist: create it first' % dest, **result)
    result['partials_removed'] = _encryption.stale_partials(dest)
    if not module.check_mode:
        for path in result['partials_removed']:
            _files.remove_path(path)
    result['changed'] = bool(result['partials_removed'])
    try:
        if params['state'] == 'encrypted':
            encrypt(module, src, dest, result)
        else:
            decrypt(module, src, dest, result)
    except EncryptionError as exc:
        module.fail_json(msg=str(exc), **result)
    except (IOError, OSError) as exc:
        module.fail_json(msg='reading %s failed: %s' % (src, exc.strerror or exc), **result)
    module.exit_json(**result)


def main():
    run_module(create_module())


if __name__ == '__main__':
    main()
