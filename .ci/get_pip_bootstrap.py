"""Stand-in for ansible-test's pip bootstrap script (get-pip.py), whose download host is unreachable here.

ansible-test runs it with the interpreter of a fresh virtualenv and pip-install arguments; we install
the pip bundled with CPython (ensurepip) and then let that pip install what was asked for from PyPI.
ensurepip runs in its own process because it points PIP_CONFIG_FILE at /dev/null in the calling
process, which would hide the machine's pip configuration (CA bundle, mirrors) from the second step.
"""
import subprocess
import sys

GET_PIP_ONLY = {"--no-setuptools", "--no-wheel"}

subprocess.check_call([sys.executable, "-m", "ensurepip", "--upgrade"], stdout=subprocess.DEVNULL)
args = [arg for arg in sys.argv[1:] if arg not in GET_PIP_ONLY]
sys.exit(subprocess.call([sys.executable, "-m", "pip", "install"] + args))
