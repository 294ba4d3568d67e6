from django.urls import include, path

from . import views

urlpatterns = [
    path("ok/", views.ok, name="ok"),
    path("articles/<int:pk>/", views.article, name="article"),
    path("api/", include([path("items/<slug:slug>/", views.item, name="item")])),
    path("raises/", views.raises, name="raises"),
    path("missing/", views.missing, name="missing"),
    path("slow/", views.slow, name="slow"),
    path("whoami/", views.whoami, name="whoami"),
    path("async/ok/", views.async_ok, name="async_ok"),
    path("async/raises/", views.async_raises, name="async_raises"),
    path("enqueue/", views.enqueue, name="enqueue"),
    path("mw-boom/", views.ok, name="mw_boom"),
]
