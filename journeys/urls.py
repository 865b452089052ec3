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
