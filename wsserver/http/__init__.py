"""The HTTP edge of every blueprint: authentication, request hooks, rate limits, the OpenAPI Api."""
