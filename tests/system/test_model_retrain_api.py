"""model_retrain method=api against the real reference service: the same records as a local run (the train
endpoint uses the very same _forecast and _model_registry files, through symlinks)."""
import os
import sys

import requests

from tests.support import playbook as pb
from tests.support.reference_service import ReferenceService

sys.path.insert(0, os.path.join(pb.ROOT, "build", "collections"))
# pylint: disable=wrong-import-position
from ansible_collections.inventory_enterprise.ops.plugins.modules import model_retrain  # noqa: E402
from ansible_collections.inventory_enterprise.ops.tests.unit.plugins.modules.ai_dbs import make_db, rows  # noqa: E402
from ansible_collections.inventory_enterprise.ops.tests.unit.plugins.modules.utils import run_module  # noqa: E402


def run(tmp_path, capsys, check_mode=False, **args):
    args = dict(dict(service_home=str(tmp_path), database_path=str(tmp_path / 'db.sqlite'),
                     models_dir=str(tmp_path / 'models'), workers=2), **args)
    return run_module(model_retrain, args, capsys, check_mode=check_mode)


def test_method_api_drives_the_reference_service_and_gives_the_same_records(tmp_path, capsys):
    local_home, api_home = tmp_path / 'local', tmp_path / 'api'
    for home in (local_home, api_home):
        (home / 'data').mkdir(parents=True)
        make_db(home / 'data' / 'enterprise_inventory.db', items={'FAST-1': 'fast', 'SLOW-1': 'intermittent'})
    failed, local = run(local_home, capsys, database_path=str(local_home / 'data' / 'enterprise_inventory.db'),
                        models_dir=str(local_home / 'ai' / 'models'))
    assert not failed, local
    with ReferenceService(api_home) as service:
        failed, remote = run_module(model_retrain, dict(
            service_home=str(api_home), method='api', api_url=service.url, api_token=service.token(), workers=2),
            capsys)
        unknown = requests.post(service.url + '/api/ai/forecast/train', timeout=30, json={
            'item_code': 'FAST-1', 'options': {'holidays': 'XX'}}, headers={'Authorization': 'Bearer ' + service.token()})
    assert unknown.status_code == 422 and 'holidays' in unknown.text, unknown.text
    assert not failed and remote['changed'] is True, remote
    assert remote['items'] == local['items'] and remote['promoted'] == 2

    def records(home):
        return rows(home / 'data' / 'enterprise_inventory.db',
                    'SELECT entity_id, model_type, status, accuracy_metrics FROM ai_models ORDER BY entity_id')
    assert records(api_home) == records(local_home)
    for entry in remote['results']:
        assert os.path.exists(api_home / 'ai' / 'models' / entry['item_code'] / ('%d.json' % entry['model_id']))
    forecasts = 'SELECT entity_id, forecast_date, round(predicted, 6) FROM ai_forecasts ORDER BY 1, 2'
    assert rows(api_home / 'data' / 'enterprise_inventory.db', forecasts) == rows(
        local_home / 'data' / 'enterprise_inventory.db', forecasts)
