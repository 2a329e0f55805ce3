"""HTTP basic authentication for the Locust web UI, added by locust-k8s-operator.

The operator mounts this file as the package `locust_plugins` on the master when
`spec.webUI.auth` is set: Locust imports `locust_plugins` at start-up when it can. Every
request to the web UI and its API must then carry the user name and password of the
test's Secret (environment LOTEST_WEB_USERNAME and LOTEST_WEB_PASSWORD); other requests
get 401 with a basic-auth challenge, so a browser asks for them. A real `locust_plugins`
package installed in the image is loaded afterwards, as if this file were not there.
"""

import base64
import hmac
import importlib
import logging
import os
import sys

from locust import events

_USERNAME = os.environ.get("LOTEST_WEB_USERNAME", "").encode("utf-8")
_PASSWORD = os.environ.get("LOTEST_WEB_PASSWORD", "").encode("utf-8")
_CHALLENGE = {"WWW-Authenticate": 'Basic realm="Locust", charset="UTF-8"'}


def _authorized(header):
    """Whether an Authorization header carries the expected credentials."""
    if not _USERNAME or not _PASSWORD or not header or not header.startswith("Basic "):
        return False
    try:
        decoded = base64.b64decode(header[len("Basic "):], validate=True)
    except ValueError:
        return False
    user, sep, password = decoded.partition(b":")
    # Both comparisons always run, in constant time.
    same_user = hmac.compare_digest(user, _USERNAME)
    same_password = hmac.compare_digest(password, _PASSWORD)
    return bool(sep) and same_user and same_password


@events.init.add_listener
def _protect_web_ui(environment, web_ui=None, **_kwargs):
    if web_ui is None:
        return
    from flask import Response, request

    if not _USERNAME or not _PASSWORD:
        logging.error("spec.webUI.auth: the user name or password is empty; the web UI refuses every request")

    @web_ui.app.before_request
    def _require_basic_auth():
        if _authorized(request.headers.get("Authorization")):
            return None
        return Response("Authentication required\n", 401, _CHALLENGE)

    logging.info("The web UI requires HTTP basic authentication (spec.webUI.auth)")


def _load_installed_plugins():
    """Imports a `locust_plugins` installed in the image, in place of this module."""
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ours = sys.modules[__name__]
    saved = list(sys.path)
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != here]
    del sys.modules[__name__]
    try:
        importlib.import_module(__name__)
    except ModuleNotFoundError as e:
        if e.name != __name__:
            raise
        sys.modules[__name__] = ours
    finally:
        sys.path[:] = saved


_load_installed_plugins()
