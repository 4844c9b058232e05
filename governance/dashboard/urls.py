from django.urls import path

from governance.dashboard import views

app_name = "dashboard"

urlpatterns = [
    path("", views.overview, name="overview"),
    path("generations/", views.generation_list, name="generation_list"),
    path("generations/<str:video_id>/", views.generation_detail, name="generation_detail"),
]
