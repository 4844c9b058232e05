from django.urls import path

from floor import views

urlpatterns = [
    path("v1/videos", views.create_video),
    path("ready", views.ready),
]
