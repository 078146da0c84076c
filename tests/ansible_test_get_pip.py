"""Stand-in for the get-pip.py that ansible-test downloads from ci-files.testing.ansible.com.

That host is out of reach here (only the package registries are), so this script bootstraps the
interpreter's bundled pip and lets it install what ansible-test asked for from PyPI. It is called
with pip-install arguments, like the real get-pip.py.

ansible-test runs pip with PIP_CONFIG_FILE=/dev/null and a filtered environment, so a machine
whose route to PyPI needs a CA from the system bundle (pip.conf's `cert`) would fail every later
install in these venvs; the venv's pip is therefore pointed at the system bundle.
"""

import ensurepip
import os
import shutil
import subprocess
import sys
import sysconfig

SYSTEM_BUNDLES = ("/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt")


def trust_system_ca() -> None:
    """Make the venv's pip verify TLS with the system CA bundle, when there is one."""
    bundle = next((b for b in SYSTEM_BUNDLES if os.path.exists(b)), None)
    vendored = os.path.join(sysconfig.get_paths()["purelib"], "pip", "_vendor", "certifi", "cacert.pem")
    if bundle and os.path.exists(vendored):
        shutil.copyfile(bundle, vendored)


ensurepip.bootstrap()
trust_system_ca()
args = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
subprocess.check_call([sys.executable, "-m", "pip", "install", "--quiet", *args])
trust_system_ca()
