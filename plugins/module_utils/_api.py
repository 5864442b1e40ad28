# -*- coding: utf-8 -*-

# Copyright (c) 2025, Inventory Enterprise operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""Small HTTP client for the Inventory Enterprise API, built on ansible.module_utils.urls.Request.

One TLS context serves every request of a client: urls.Request.open builds a new one per call otherwise, and
loading the CA certificates takes about 20 ms of CPU under the GIL, more than a cached read of the service
(cache warming's 100 requests spent 2 s on it). ansible-core before 2.17 cannot take a context, and pays it.

Every failure becomes an ApiError subclass whose message says what failed, where and what to do;
no exception from the network stack escapes ApiClient.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import inspect
import json
import time
import socket
import threading
from urllib.error import HTTPError, URLError
from urllib.parse import urljoin

from ansible.module_utils.common.text.converters import to_native, to_text

from ansible_collections.inventory_enterprise.ops.plugins.module_utils._printable import printable

DEFAULT_API_URL = 'http://localhost:8083'
DEFAULT_API_TIMEOUT = 10.0
USER_AGENT = 'ansible-inventory_enterprise.ops'

# How much of an unexpected body goes into an error message.
BODY_EXCERPT = 200


def api_argument_spec():
    """Options shared by every module that talks to the service (doc fragment inventory_enterprise.ops.api)."""
    return dict(
        api_url=dict(type='str', default=DEFAULT_API_URL),
        api_timeout=dict(type='float', default=DEFAULT_API_TIMEOUT),
        validate_certs=dict(type='bool', default=True),
        api_token=dict(type='str', no_log=True),
    )


def excerpt(text, limit=BODY_EXCERPT):
    """One-line, bounded excerpt of a response body for messages, control characters escaped."""
    text = ' '.join(to_text(text or '', errors='surrogate_or_replace').split())
    if len(text) > limit:
        text = text[:limit] + '...'
    return printable(text)


class ApiResponse(object):
    """What the service answered: status, headers, raw text and the parsed JSON (None when not JSON)."""

    def __init__(self, url, status, text, headers=None, elapsed=None):
        self.url = url
        self.status = status
        # Seconds from the request to the whole answer read: the API latency the morning check reports.
        self.elapsed = elapsed
        self.text = text
        self.headers = dict(headers or {})
        self.json = None
        self.json_error = None
        if text:
            try:
                self.json = json.loads(text)
            except ValueError as exc:
                self.json_error = to_native(exc)
        else:
            self.json_error = 'empty body'

    @property
    def is_json(self):
        return self.json_error is None

    def __repr__(self):
        return 'ApiResponse(%r, %r)' % (self.url, self.status)


class ApiError(Exception):
    """Base class: `kind` is one of unreachable, timeout, tls, http, json, error."""

    kind = 'error'

    def __init__(self, message, url, response=None):
        super(ApiError, self).__init__(message)
        self.message = message
        self.url = url
        self.response = response

    @property
    def status(self):
        return self.response.status if self.response is not None else None

    def __str__(self):
        return self.message


class ApiUnreachableError(ApiError):
    """Connection refused, unknown host, network unreachable."""

    kind = 'unreachable'


class ApiTimeoutError(ApiError):
    """No answer within api_timeout."""

    kind = 'timeout'


class ApiTLSError(ApiError):
    """Certificate validation or TLS handshake failure."""

    kind = 'tls'


class ApiHttpError(ApiError):
    """The service answered with a status >= 400; `response` keeps status, body and parsed JSON."""

    kind = 'http'


class ApiJSONError(ApiError):
    """A 2xx answer whose body is not the JSON the caller asked for."""

    kind = 'json'


def _is_timeout(exc):
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return True
    reason = getattr(exc, 'reason', None)
    if isinstance(reason, (socket.timeout, TimeoutError)):
        return True
    return 'timed out' in to_native(reason if reason is not None else exc).lower()


class ApiClient(object):
    """GET/POST against the service. Returns ApiResponse for 2xx/3xx, raises ApiError otherwise."""

    def __init__(self, base_url=DEFAULT_API_URL, timeout=DEFAULT_API_TIMEOUT, validate_certs=True,
                 token=None, user_agent=USER_AGENT):
        self.base_url = (base_url or DEFAULT_API_URL).rstrip('/') + '/'
        self.timeout = float(timeout if timeout is not None else DEFAULT_API_TIMEOUT)
        self.validate_certs = validate_certs
        self.token = token
        self.user_agent = user_agent
        self._tls_context = None
        self._tls_lock = threading.Lock()

    def _context_kwargs(self, urls):
        """{'context': the client's one TLS context} where urls.Request.open takes one, else {}."""
        if 'context' not in inspect.signature(urls.Request.open).parameters:
            return {}
        with self._tls_lock:
            if self._tls_context is None:
                # The context Request.open would build itself (no CA file, ciphers or client certificate).
                self._tls_context = urls.make_context(validate_certs=self.validate_certs)
        return {'context': self._tls_context}

    @classmethod
    def from_module(cls, module):
        """Build a client from the options of api_argument_spec()."""
        params = module.params
        return cls(base_url=params['api_url'], timeout=params['api_timeout'],
                   validate_certs=params['validate_certs'], token=params.get('api_token'))

    def url(self, path):
        return urljoin(self.base_url, path.lstrip('/'))

    def get(self, path, expect_json=False, headers=None):
        return self.request('GET', path, expect_json=expect_json, headers=headers)

    def get_json(self, path):
        return self.request('GET', path, expect_json=True).json

    def post(self, path, data=None, expect_json=False):
        return self.request('POST', path, data=data, expect_json=expect_json)

    def _headers(self, has_body, extra=None):
        headers = {'Accept': 'application/json, text/plain;q=0.9, */*;q=0.5'}
        headers.update(extra or {})
        if has_body:
            headers['Content-Type'] = 'application/json'
        if self.token:
            headers['Authorization'] = 'Bearer %s' % self.token
        return headers

    def request(self, method, path, data=None, expect_json=False, headers=None):
        # Imported here: ansible.module_utils.urls takes about 60 ms to import, which a module that makes no
        # request (health_check on a host that only checks its disks) should not pay.
        # urls.ConnectionError is not the builtin one, hence the module prefix.
        from ansible.module_utils import urls  # pylint: disable=import-outside-toplevel
        url = self.url(path)
        body = None
        if data is not None:
            body = data if isinstance(data, (bytes, str)) else json.dumps(data)
        started = time.monotonic()
        try:
            resp = urls.Request().open(method, url, data=body, headers=self._headers(body is not None, headers),
                                       timeout=self.timeout, validate_certs=self.validate_certs,
                                       http_agent=self.user_agent, follow_redirects='safe',
                                       **self._context_kwargs(urls))
            try:
                raw = resp.read()
                status = resp.getcode()
                headers = resp.headers
            finally:
                resp.close()
        except HTTPError as exc:
            # HTTPError is also a response: keep status and body (/health answers 503 with JSON).
            raw = b''
            try:
                raw = exc.read() or b''
            except Exception:  # pylint: disable=broad-except
                pass
            response = ApiResponse(url, exc.code, to_text(raw, errors='surrogate_or_replace'),
                                   getattr(exc, 'headers', None), elapsed=time.monotonic() - started)
            msg = 'HTTP %s from %s %s' % (exc.code, method, url)
            if response.text:
                msg += ': %s' % excerpt(response.text)
            raise ApiHttpError(msg + '; ' + _http_hint(exc.code), url, response)
        except urls.SSLValidationError as exc:
            raise ApiTLSError('TLS certificate validation failed for %s: %s; fix the certificate or set '
                              'validate_certs=false on a trusted network' % (url, excerpt(to_native(exc), 300)),
                              url)
        except (URLError, urls.ConnectionError, OSError) as exc:
            if _is_timeout(exc):
                raise ApiTimeoutError('no answer from %s within %s s: the service is hung or overloaded; '
                                      'check it, or raise api_timeout' % (url, _fmt_seconds(self.timeout)), url)
            reason = getattr(exc, 'reason', exc)
            raise ApiUnreachableError('cannot connect to %s (%s): is the service running and listening there? '
                                      'check api_url' % (url, to_native(reason)), url)
        except Exception as exc:  # pylint: disable=broad-except
            # Anything else from the HTTP stack (bad URL, protocol error...) is still a clean error.
            raise ApiError('request %s %s failed: %s: %s; check api_url' % (method, url, type(exc).__name__,
                                                                            to_native(exc)), url)

        response = ApiResponse(url, status, to_text(raw, errors='surrogate_or_replace'), headers,
                               elapsed=time.monotonic() - started)
        if expect_json and not response.is_json:
            raise ApiJSONError('malformed JSON from %s %s (HTTP %s): %s; body starts with: %r'
                               % (method, url, status, response.json_error, excerpt(response.text, 80)),
                               url, response)
        return response


def _http_hint(status):
    if status in (401, 403):
        return 'check api_token'
    if status == 404:
        return 'check api_url: is it the Inventory Enterprise service?'
    if status >= 500:
        return 'the service is failing: check its logs'
    return 'check the request'


def _fmt_seconds(value):
    return ('%g' % value)
