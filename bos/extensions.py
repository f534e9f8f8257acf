"""Unbound Flask extensions; ``create_app`` attaches them with ``init_app``."""

from flask_babel import Babel
from flask_smorest import Api

babel = Babel()
api = Api()
