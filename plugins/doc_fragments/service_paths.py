# -*- coding: utf-8 -*-

# Copyright (c) 2025, Inventory Enterprise operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type


class ModuleDocFragment(object):

    # Options locating the service's files (module_utils/_service_layout.py service_paths_argument_spec), shared by the
    # modules that read or write them.
    DOCUMENTATION = r'''
options:
  service_home:
    description:
      - Home directory of the service; the other paths default to its C(.env) keys (C(DATABASE_PATH),
        C(TRANSACTION_LOG_PATH), C(BACKUP_DIR), C(CONFIG_DIR), C(MODELS_DIR), C(LOG_DIR)) or the service's
        defaults, relative to it.
    type: path
    default: /opt/inventory-enterprise
  env_file:
    description:
      - The service's C(.env) file. Default C(<service_home>/.env).
      - Read as the service reads it; a file that cannot be read or has a bad line (reported by file and line,
        never by value) fails the task before anything is changed, and so does a named O(env_file) that does
        not exist, or a missing C(<service_home>/.env) unless O(database_path) is set (the default paths need
        not hold the service's database).
    type: path
  database_path:
    description: The service's SQLite database. Default C(DATABASE_PATH), else C(data/enterprise_inventory.db).
    type: path
  transaction_log_path:
    description: The transaction log. Default C(TRANSACTION_LOG_PATH), else C(data/transaction_log.jsonl).
    type: path
  config_dir:
    description: Configuration directory, C(config/) in an archive. Default C(CONFIG_DIR), else C(config).
    type: path
  models_dir:
    description: AI models directory, C(models/) in an archive. Default C(MODELS_DIR), else C(ai/models).
    type: path
'''
