"""The HTTP skeleton every service shares: see dipflow.http.app.create_service_app."""
