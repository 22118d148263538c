// Octopus portal links (/app#/Spaces-1/tasks/ServerTasks-5): the fragment never reaches
// the server, so send it to /app/go, which redirects to drydock's page for it.
"use strict";
if (location.hash.length > 1) {
  location.replace("/app/go?to=" + encodeURIComponent(location.hash.slice(1)));
}
