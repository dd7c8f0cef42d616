"""What wraps every request before a handler sees it: security headers, the sites' allowed
origins (CORS), rate limits and the body's size and time limits (app.py orders them)."""
