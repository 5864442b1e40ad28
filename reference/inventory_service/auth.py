"""Single admin account and HS256 bearer tokens."""
import hmac
import time
import warnings

import jwt

try:
    from jwt.warnings import InsecureKeyLengthWarning
except ImportError:  # PyJWT before 2.10 does not warn
    InsecureKeyLengthWarning = None

ALGORITHM = "HS256"
RECOMMENDED_SECRET_LENGTH = 32

if InsecureKeyLengthWarning is not None:
    # The service accepts secrets from 16 characters (config.MIN_SECRET_LENGTH) and says once, at start,
    # when one is below the 32 that RFC 7518 recommends; PyJWT would repeat that on every request.
    warnings.filterwarnings("ignore", category=InsecureKeyLengthWarning)


class InvalidToken(Exception):
    pass


def check_credentials(settings, username, password) -> bool:
    if not settings.admin_password:
        return False
    # Compare both fields, always, in constant time: timing must not reveal which one was wrong.
    user_ok = hmac.compare_digest(username.encode("utf-8"), settings.admin_username.encode("utf-8"))
    password_ok = hmac.compare_digest(password.encode("utf-8"), settings.admin_password.encode("utf-8"))
    return user_ok and password_ok


def issue_token(settings, subject, now=None):
    now = int(time.time() if now is None else now)
    claims = {"sub": subject, "iat": now, "exp": now + settings.jwt_expires_seconds}
    return jwt.encode(claims, settings.jwt_secret, algorithm=ALGORITHM)


def verify_token(settings, token) -> str:
    """Returns the token's subject; raises InvalidToken with a short reason."""
    try:
        claims = jwt.decode(token, settings.jwt_secret, algorithms=[ALGORITHM],
                            options={"require": ["exp", "sub"]})
    except jwt.ExpiredSignatureError:
        raise InvalidToken("expired") from None
    except jwt.InvalidTokenError as exc:
        raise InvalidToken(exc.__class__.__name__) from None
    return claims["sub"]
