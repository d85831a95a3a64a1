// An owner sets a sharing policy in the console and sees what viewers did with a link.

import { test } from "node:test";
import assert from "node:assert/strict";
import { serverAndBrowser, freshContext, finishedTask, signInToConsole } from "./harness.mjs";

const env = serverAndBrowser();

/** A page of a fresh context, signed in to the console as alice. */
const signIn = (context) => signInToConsole(env.server, context);

test("a policy set in the console holds in the Share dialog; the link's page shows its activity", async () => {
  await finishedTask(env.server, { title: "Board numbers" });
  const desk = await signIn(await freshContext(env.browser));
  await desk.click("nav >> text=Sharing policy");
  await desk.check("input[name=require_password]");
  await desk.click("button:has-text('Save policy')");
  await desk.waitForSelector("text=Saved. The policy applies from now on.");

  await desk.click("nav >> text=Tasks");
  await desk.click("text=Board numbers");
  await desk.click("[data-open='#share-dialog']");
  await desk.click("#share-dialog button:has-text('Create link')");
  assert.match(await desk.textContent("#share-dialog [role=alert]"), /password/i, "the policy is said beside the form");
  await desk.fill("#s-password", "board-password");
  await desk.click("#share-dialog button:has-text('Create link')");
  await desk.waitForSelector("#created-dialog[open]");
  const url = await desk.inputValue("#created-url");
  const details = await desk.getAttribute("#created-dialog a:has-text('Details')", "href");

  const viewer = await (await freshContext(env.browser)).newPage();
  await viewer.goto(url);
  await viewer.fill("#password", "wrong-password");
  await viewer.click("button:has-text('Open')");
  await viewer.fill("#password", "board-password");
  await viewer.click("button:has-text('Open')");
  await viewer.waitForSelector("text=The session cookie was not renewed.");

  // Entries other than views are written in the background: reload until they show.
  const page = new URL(details, env.server.base).href;
  const deadline = Date.now() + 10_000;
  let activity = "";
  while (!/wrong password/.test(activity) && Date.now() < deadline) {
    await desk.goto(page);
    activity = await desk.textContent("#activity");
  }
  assert.match(activity, /viewed/, activity);
  assert.match(activity, /wrong password/, "the wrong password is there too");
  assert.match(activity, /opened/, "and the password page it was typed on");
});
