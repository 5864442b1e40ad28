"""The reference service of this checkout in a subprocess on a free port, for tests that drive its API directly."""
import os

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class ReferenceService(object):
    """The reference service of THIS checkout (reference/ next to the collection), in a subprocess on a free port."""

    def __init__(self, home):
        import socket
        self.home = str(home)
        with socket.socket() as probe:
            probe.bind(('127.0.0.1', 0))
            self.port = probe.getsockname()[1]
        self.url = 'http://127.0.0.1:%d' % self.port
        self.process = None

    def __enter__(self):
        import os
        import subprocess
        import sys
        import time
        import urllib.request
        reference = os.path.join(ROOT, 'reference')
        with open(os.path.join(self.home, '.env'), 'w') as handle:
            handle.write('PORT=%d\nJWT_SECRET=unit-test-secret-0123456789abcdef\nADMIN_PASSWORD=unit-test-pw\n'
                         % self.port)
        env = dict(os.environ, PYTHONPATH=reference)
        self.log = open(os.path.join(self.home, 'service.out'), 'w')
        self.process = subprocess.Popen([sys.executable, '-m', 'inventory_service', 'serve'], cwd=self.home,
                                        env=env, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(self.url + '/health', timeout=1).read()
                break
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError('the reference service did not start, see %s/service.out' % self.home)
                time.sleep(0.05)  # polling the port until it answers, not a fixed wait
        return self

    def token(self):
        import json
        import urllib.request
        request = urllib.request.Request(self.url + '/api/auth/login', method='POST',
                                         data=json.dumps({'username': 'admin', 'password': 'unit-test-pw'}).encode(),
                                         headers={'Content-Type': 'application/json'})
        return json.load(urllib.request.urlopen(request, timeout=10))['token']

    def __exit__(self, *exc_info):
        self.process.terminate()
        self.process.wait(30)
        self.log.close()
