def navigation(request):  # type: ignore[no-untyped-def]
    return {}
