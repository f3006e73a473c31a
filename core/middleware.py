"""Middleware of the project."""

from django.utils.cache import patch_cache_control


def no_store_with_a_key(get_response):
    """Every answer to a request that carries a key (``Authorization``) is
    kept out of every cache, shared or the browser's: statements, CSV and
    HTML pages included (DESIGN.md "Trust between the parties")."""

    def middleware(request):
        response = get_response(request)
        if "HTTP_AUTHORIZATION" in request.META:
            patch_cache_control(response, no_store=True)
        return response

    return middleware
