from django.urls import path, re_path

from governance.simulator import views

app_name = "simulator"

urlpatterns = [
    path("videos", views.videos, name="videos"),
    path("videos/edits", views.edits, name="edits"),
    path("videos/extensions", views.extensions, name="extensions"),
    path("videos/characters", views.characters, name="characters"),
    path("videos/<id:video_id>/remix", views.remix, name="remix"),
    path("videos/characters/<id:character_id>", views.character, name="character"),
    path("videos/<id:video_id>", views.video, name="video"),
    path("videos/<id:video_id>/content", views.video_content, name="video-content"),
    path("models", views.models, name="models"),
    path("models/<id:model_name>", views.model, name="model"),
    re_path(r"^", views.unknown_route, name="unknown-route"),
]
