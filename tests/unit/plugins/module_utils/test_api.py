# -*- coding: utf-8 -*-

# Copyright (c) 2025, Inventory Enterprise operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import time

import pytest

from ansible_collections.inventory_enterprise.ops.plugins.module_utils._api import (
    ApiClient,
    ApiError,
    ApiHttpError,
    ApiJSONError,
    ApiTimeoutError,
    ApiUnreachableError,
    api_argument_spec,
)
from ansible_collections.inventory_enterprise.ops.tests.unit.servers import route


def test_argument_spec_defaults_and_secrets():
    spec = api_argument_spec()
    assert spec['api_url']['default'] == 'http://localhost:8083'
    assert spec['api_timeout'] == dict(type='float', default=10.0)
    assert spec['validate_certs']['default'] is True
    assert spec['api_token']['no_log'] is True


def test_get_json_healthy(api):
    client = ApiClient(api.url, timeout=5)
    resp = client.get('/health', expect_json=True)
    assert resp.status == 200
    assert resp.json['status'] == 'ok'
    assert resp.url == api.url + '/health'


def test_get_text(api):
    resp = ApiClient(api.url + '/', timeout=5).get('metrics')
    assert resp.status == 200
    assert 'system_health_status' in resp.text
    assert resp.json is None and not resp.is_json


def test_503_keeps_status_and_json_body(api):
    api.use('degraded')
    with pytest.raises(ApiHttpError) as err:
        ApiClient(api.url, timeout=5).get('/health', expect_json=True)
    exc = err.value
    assert exc.kind == 'http' and exc.status == 503
    assert exc.response.json['cache'] == 'disconnected'
    assert exc.response.json['failed'] == ['cache']
    assert 'HTTP 503 from GET %s/health' % api.url in str(exc)


def test_500_text_body(api):
    api.use('error500')
    with pytest.raises(ApiHttpError) as err:
        ApiClient(api.url, timeout=5).get('/health', expect_json=True)
    assert err.value.status == 500
    assert not err.value.response.is_json
    assert 'Internal Server Error' in str(err.value)


def test_malformed_json(api):
    api.use('malformed')
    with pytest.raises(ApiJSONError) as err:
        ApiClient(api.url, timeout=5).get_json('/health')
    assert err.value.kind == 'json'
    assert 'malformed JSON from GET %s/health (HTTP 200)' % api.url in str(err.value)


def test_timeout(api):

    api.use('healthy', **{'/health': route(200, {'status': 'ok'}, delay=2.0)})
    start = time.monotonic()
    with pytest.raises(ApiTimeoutError) as err:
        ApiClient(api.url, timeout=0.3).get('/health')
    assert time.monotonic() - start < 1.5
    assert 'no answer from %s/health within 0.3 s' % api.url in str(err.value)
    assert 'api_timeout' in str(err.value)


def test_connection_refused(dead_url):
    with pytest.raises(ApiUnreachableError) as err:
        ApiClient(dead_url, timeout=2).get('/health')
    msg = str(err.value)
    assert msg.startswith('cannot connect to %s/health' % dead_url)
    assert 'refused' in msg.lower()
    assert 'check api_url' in msg


def test_unresolvable_host_is_unreachable():
    with pytest.raises(ApiUnreachableError) as err:
        ApiClient('http://no-such-host.invalid:8083', timeout=2).get('/health')
    assert 'no-such-host.invalid' in str(err.value)


def test_bad_scheme_is_a_clean_error():
    with pytest.raises(ApiError) as err:
        ApiClient('gopher://127.0.0.1:1', timeout=1).get('/health')
    assert 'gopher://127.0.0.1:1/health' in str(err.value)


def test_bearer_token_and_post(api):
    client = ApiClient(api.url, timeout=5, token='s3cret')
    client.get('/health')
    with pytest.raises(ApiHttpError) as err:
        client.post('/api/backup/create', data={'db_only': True})
    assert err.value.status == 404
    assert [r['authorization'] for r in api.requests] == ['Bearer s3cret', 'Bearer s3cret']
    assert api.requests[1]['method'] == 'POST'


def test_no_token_no_header(api):
    ApiClient(api.url, timeout=5).get('/health')
    assert api.requests[0]['authorization'] is None


@pytest.mark.parametrize('validate_certs', [True, False])
def test_one_tls_context_per_client(api, monkeypatch, validate_certs):
    """urls.Request.open would load the CA certificates on every request (about 20 ms each); a client loads them
    once, with the validation it was asked for, where ansible-core lets it pass a context."""
    from ansible.module_utils import urls
    made = []
    real = urls.make_context

    def counting(**kwargs):
        made.append(kwargs)
        return real(**kwargs)

    monkeypatch.setattr(urls, 'make_context', counting)
    client = ApiClient(api.url, timeout=5, validate_certs=validate_certs)
    for dummy in range(5):
        assert client.get('/health').status == 200
    assert made == [dict(validate_certs=validate_certs)]
    assert len(api.requests) == 5
