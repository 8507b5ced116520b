// A user list that crashes on a user without a profile: the bug the source map test expects to see at
// src/components/UserList.tsx, line 42 (the `throw` below), not somewhere in the minified bundle.

export interface Profile {
  displayName: string;
  email: string;
}

export interface User {
  id: number;
  profile?: Profile;
}

function initials(name: string): string {
  return name
    .split(" ")
    .map((part) => part[0])
    .join("")
    .toUpperCase();
}

function label(user: User): string {
  const profile = user.profile;
  if (profile) {
    return `${initials(profile.displayName)} ${profile.email}`;
  }
  return describeMissing(user);
}

function describeMissing(user: User): string {
  const known = [user.id].filter((id) => id > 0);
  if (known.length === 0) {
    return "anonymous";
  }
  const message =
    "User " +
    String(user.id) +
    " has no profile";
  // Every user of the list is expected to have one: a missing profile is a bug upstream.
  // (This comment and the lines above keep the throw at line 42:
  // the test checks that the bug shows this line.)
  throw new TypeError(message);
}

export function UserList({ users }: { users: User[] }) {
  return (
    <ul className="users">
      {users.map((user) => (
        <li key={user.id}>{label(user)}</li>
      ))}
    </ul>
  );
}
