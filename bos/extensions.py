"""Unbound Flask extensions; ``create_app`` attaches them with ``init_app``."""

from flask_babel import Babel
from flask_login import LoginManager
from flask_smorest import Api
from flask_wtf.csrf import CSRFProtect

babel = Babel()
api = Api()
login_manager = LoginManager()
csrf = CSRFProtect()
