// The app's entry: Sentry first, then React renders the user list (whose third user has no profile).
import * as Sentry from "@sentry/browser";
import { createRoot } from "react-dom/client";

import { UserList } from "./components/UserList";

Sentry.init({
  dsn: __SENTRY_DSN__,
  release: __RELEASE__,
  environment: "production",
});

(window as any).flush = (): Promise<boolean> => Sentry.flush(10000);

const users = [
  { id: 1, profile: { displayName: "Ada Lovelace", email: "ada@example.com" } },
  { id: 2, profile: { displayName: "Alan Turing", email: "alan@example.com" } },
  { id: 3 },
];

createRoot(document.getElementById("root")!).render(<UserList users={users} />);
