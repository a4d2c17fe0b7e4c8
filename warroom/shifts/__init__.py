"""On-call shifts as people live them: the handoff note drafted at every change of
person (from the incidents, alerts, pages, changes and silences of the shift), and
on-call health (the load each person and rotation carried). Reads the other domains;
nothing reads it."""
