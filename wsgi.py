"""Entry point for gunicorn: ``gunicorn 'wsgi:app'``."""

from bos import create_app

app = create_app()
