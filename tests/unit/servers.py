# -*- coding: utf-8 -*-

# Copyright (c) 2025, Inventory Enterprise operations team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Real servers for the unit tests: a scripted HTTP service on a free loopback port. No HTTP mocks."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import contextlib
import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HEALTHY = {"status": "ok", "database": "connected", "cache": "connected", "version": "2.1.0",
           "cache_backend": "redis"}
DEGRADED = {"status": "degraded", "database": "connected", "cache": "disconnected", "version": "2.1.0",
            "cache_backend": "redis", "failed": ["cache"]}

RSS_BYTES = 150 * 1024 * 1024


def metrics_text(database=1, cache=1, postgres=None, rss=RSS_BYTES):
    """Prometheus text like the service exposes it (gauges, process metrics, a histogram)."""
    lines = [
        '# HELP system_health_status Health of a dependency (1 up, 0 down)',
        '# TYPE system_health_status gauge',
        'system_health_status{component="database"} %s' % database,
        'system_health_status{component="cache"} %s' % cache,
    ]
    if postgres is not None:
        lines.append('system_health_status{component="postgres"} %s' % postgres)
    if rss is not None:
        lines += ['# HELP process_resident_memory_bytes Resident memory size in bytes.',
                  '# TYPE process_resident_memory_bytes gauge',
                  'process_resident_memory_bytes %s' % float(rss)]
    lines += [
        '# HELP http_request_duration_seconds Request latency',
        '# TYPE http_request_duration_seconds histogram',
        'http_request_duration_seconds_bucket{le="0.1",path="/health"} 3.0',
        'http_request_duration_seconds_bucket{le="+Inf",path="/health"} 4.0',
        'http_request_duration_seconds_count{path="/health"} 4.0',
        'http_request_duration_seconds_sum{path="/health"} 0.35',
    ]
    return '\n'.join(lines) + '\n'


def route(status=200, body='', content_type='application/json', delay=0.0):
    if not isinstance(body, (str, bytes)):
        body = json.dumps(body)
    return dict(status=status, body=body, content_type=content_type, delay=delay)


SCENARIOS = {
    'healthy': {'/health': route(200, HEALTHY),
                '/metrics': route(200, metrics_text(), 'text/plain; version=0.0.4')},
    'degraded': {'/health': route(503, DEGRADED),
                 '/metrics': route(200, metrics_text(cache=0), 'text/plain; version=0.0.4')},
    'error500': {'/health': route(500, 'Internal Server Error', 'text/plain'),
                 '/metrics': route(500, 'Internal Server Error', 'text/plain')},
    'malformed': {'/health': route(200, '{"status": "ok", "database": ', 'application/json'),
                  '/metrics': route(200, 'system_health_status{component="database" 1\n', 'text/plain')},
}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'

    def log_message(self, *args):  # keep test output clean
        pass

    def _serve(self):
        server = self.server
        path = self.path.split('?', 1)[0]
        with server.lock:
            server.requests.append(dict(method=self.command, path=path,
                                        authorization=self.headers.get('Authorization')))
            spec = server.routes.get(path)
        if spec is None:
            spec = route(404, {'detail': 'Not Found'})
        if spec['delay']:
            time.sleep(spec['delay'])
        body = spec['body'] if isinstance(spec['body'], bytes) else spec['body'].encode('utf-8')
        try:
            self.send_response(spec['status'])
            self.send_header('Content-Type', spec['content_type'])
            self.send_header('Content-Length', str(len(body)))
            self.send_header('Connection', 'close')
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (timeout tests)

    do_GET = _serve
    do_POST = _serve


class ApiServer(object):
    """ThreadingHTTPServer on a free 127.0.0.1 port serving scripted routes; records every request."""

    def __init__(self):
        self.httpd = ThreadingHTTPServer(('127.0.0.1', 0), _Handler)
        self.httpd.daemon_threads = True
        self.httpd.lock = threading.Lock()
        self.httpd.requests = []
        self.httpd.routes = {}
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs=dict(poll_interval=0.05))
        self.thread.daemon = True

    @property
    def url(self):
        return 'http://127.0.0.1:%d' % self.httpd.server_address[1]

    @property
    def requests(self):
        return list(self.httpd.requests)

    def count(self, path):
        return sum(1 for r in self.httpd.requests if r['path'] == path)

    def use(self, scenario=None, **routes):
        """Serve a named scenario, optionally overriding routes: use('healthy', **{'/health': route(...)})."""
        new = dict(SCENARIOS[scenario]) if scenario else {}
        new.update(routes)
        self.httpd.routes = new
        self.httpd.requests[:] = []
        return self

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def closed_port():
    """A loopback port with nothing listening on it."""
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


class ScriptedRedis(object):
    """A TCP server speaking just enough of the Redis protocol to answer every command with one scripted
    reply (for what a real redis-server cannot be made to say, such as an error carrying control characters)."""

    def __init__(self, reply=b'+PONG\r\n'):
        self.reply = reply
        self.commands = []
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(('127.0.0.1', 0))
        self.sock.listen(8)
        self.thread = threading.Thread(target=self._accept)
        self.thread.daemon = True

    @property
    def url(self):
        return 'redis://127.0.0.1:%d/0' % self.sock.getsockname()[1]

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()

    def _accept(self):
        while True:
            try:
                conn, dummy = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        with contextlib.closing(conn), conn.makefile('rb') as stream:
            while True:
                header = stream.readline()
                if not header.startswith(b'*'):
                    return
                args = []
                for dummy in range(int(header[1:])):
                    length = int(stream.readline()[1:])
                    args.append(stream.read(length + 2)[:-2])
                self.commands.append(args)
                try:
                    conn.sendall(self.reply)
                except OSError:
                    return
