from django.urls import path

from journeys import views

app_name = "journeys"

urlpatterns = [
    path("journeys/", views.journey_list, name="journey_list"),
    path("journeys/new/", views.journey_create, name="journey_create"),
    path("journeys/<int:pk>/", views.journey_detail, name="journey_detail"),
    path("journeys/<int:pk>/status/", views.journey_status, name="journey_status"),
    path("journeys/<int:pk>/steps/", views.step_add, name="step_add"),
    path("journeys/<int:pk>/enrol/", views.journey_enrol, name="journey_enrol"),
    path("journeys/steps/<int:pk>/", views.step_edit, name="step_edit"),
    path("todos/", views.todo_list, name="todo_list"),
    path("todos/<int:pk>/done/", views.todo_done, name="todo_done"),
    path("sidebar/todos/", views.sidebar_todos, name="sidebar_todos"),
]

# 群SOP (group SOP): its own views module.
from journeys import group_views  # noqa: E402

urlpatterns += [
    path("group-sops/", group_views.group_sop_list, name="group_sop_list"),
    path("group-sops/new/", group_views.group_sop_create, name="group_sop_create"),
    path("group-sops/<int:pk>/", group_views.group_sop_detail, name="group_sop_detail"),
    path("group-sops/<int:pk>/status/", group_views.group_sop_status, name="group_sop_status"),
]
