# Copyright: baremetal.lb contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Connection options every module of this collection adds to kubernetes.core's.

One literal string: ansible-test's yamllint reads it without running Python.
"""

from __future__ import annotations


class ModuleDocFragment:
    """The request timeout, and what a module says when the API server cannot be used."""

    DOCUMENTATION = r"""
options:
  request_timeout:
    description:
      - Seconds each request to the Kubernetes API may take, connecting included (like
        C(kubectl --request-timeout)); a request is made once, without retries.
      - Can also be specified via the E(K8S_AUTH_REQUEST_TIMEOUT) environment variable, named like
        kubernetes.core's other connection variables (kubernetes.core itself has no request timeout).
      - Waits a module does on purpose, such as O(baremetal.lb.expose#module:wait_timeout), are separate
        and bounded by their own option.
    type: int
    default: 30
notes:
  - Before anything else, the module asks the API server C(GET /version). When that fails, the
    module fails with one line that names the server and the request, saying whether nothing
    answered within O(request_timeout) (packets dropped), the connection was refused, there is no
    route to the server, its name does not resolve, TLS failed, the credentials were refused, or the
    address answers but is not a Kubernetes API server. A O(kubeconfig) path that names no file
    fails with that path.
"""
