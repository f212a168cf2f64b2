"""dipflow web pages: the worker inbox, liaison views and the measures dashboard, over the services' APIs."""
