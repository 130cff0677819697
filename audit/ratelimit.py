"""Login attempts per client address, and the client address behind a trusted proxy.

The lock-out in ``users.authenticate`` protects one account; this protects the server. Every
login attempt costs a scrypt hash (slow on purpose), so a flood of wrong passwords from one
address would eat the CPU that everybody else needs. Failed attempts are counted per address
in the process's memory (the app runs as one process; a restart forgets the counts, which is
harmless), and once ``LOGIN_RATE_LIMIT`` is reached the login form answers 429 without
hashing anything. Successful logins are not counted: a whole care home behind one address
logging in at the start of a shift is not an attack.
"""

from __future__ import annotations

from flask import Flask, Response, current_app
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from werkzeug.middleware.proxy_fix import ProxyFix

limiter = Limiter(key_func=get_remote_address, storage_uri="memory://")


def _login_limit() -> str:
    return current_app.config["LOGIN_RATE_LIMIT"]


def _failed(response: Response) -> bool:
    # A successful login redirects; everything else (a wrong password, an expired form) counts.
    return response.status_code != 302


login_attempts = limiter.limit(_login_limit, methods=["POST"], deduct_when=_failed)


def init_app(app: Flask) -> None:
    # The memory storage is made by init_app, so each app (and each test) starts counting anew.
    limiter.init_app(app)
    proxies = int(app.config["TRUSTED_PROXIES"])
    if proxies > 0:
        # Only as many X-Forwarded-For entries as there are proxies of our own are believed:
        # a client that sends its own header cannot choose the address it is counted under.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies)
