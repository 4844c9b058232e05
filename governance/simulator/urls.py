from django.urls import path, re_path

from governance.simulator import views

app_name = "simulator"

urlpatterns = [
    path("videos", views.videos, name="videos"),
    path("videos/<id:video_id>", views.video, name="video"),
    path("videos/<id:video_id>/content", views.video_content, name="video-content"),
    path("videos/<id:video_id>/remix", views.remix, name="remix"),
    path("models", views.models, name="models"),
    path("models/<id:model_name>", views.model, name="model"),
    re_path(r"^", views.unknown_route, name="unknown-route"),
]
