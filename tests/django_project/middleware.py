"""Test-only middleware: an exception raised outside any view."""
from django.http import HttpRequest


class ExplodingMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest):
        if request.path == "/mw-boom/":
            raise KeyError("exploded in a middleware")
        return self.get_response(request)
