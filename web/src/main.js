// main.js - the web client's entry point: the route table (DESIGN §2,
// "Client pages"), then the shell starts.  Every path here is one nginx
// answers with index.html; none is an API path.

import {route, start, go} from "./app.js";
import * as session from "./session.js";
import {account} from "./pages/account.js";
import {login, register} from "./pages/auth.js";
import {dashboard} from "./pages/dashboard.js";
import {mute} from "./pages/mute.js";
import {project} from "./pages/project.js";
import {projectForm} from "./pages/project_form.js";
import {projects} from "./pages/projects.js";
import {status} from "./pages/status.js";
import {verify} from "./pages/verify.js";

// "/" is the dashboard for someone signed in, the sign-in page otherwise
// (the original client's start page).
async function home(ctx) {
  if (!session.current()) {
    if (!session.wasSignedIn()) {
      go("/login", {replace: true});
      return;
    }
    try {
      await session.load(ctx.signal);
    } catch (e) {
      if (ctx.alive) go("/login", {replace: true});
      return;
    }
  }
  if (ctx.alive) go("/dashboard", {replace: true});
}

performance.mark("trackly:main");
route(/^\/$/, home, {public: true});
route(/^\/login\/?$/, login, {public: true, nav: "login"});
route(/^\/register\/?$/, register, {public: true, nav: "register"});
route(/^\/verify\/?$/, verify, {public: true});
route(/^\/mute(?:\.html)?\/?$/, mute, {public: true});
route(/^\/dashboard\/?$/, dashboard, {nav: "dashboard"});
route(/^\/projects\/?$/, projects, {nav: "projects"});
route(/^\/projects\/new\/?$/, projectForm, {nav: "projects"});
route(/^\/projects\/([1-9][0-9]{0,17})\/?$/, project, {nav: "projects"});
route(/^\/projects\/([1-9][0-9]{0,17})\/edit\/?$/, projectForm,
      {nav: "projects"});
route(/^\/status\/?$/, status, {nav: "status"});
route(/^\/account\/?$/, account, {nav: "account"});

start();
