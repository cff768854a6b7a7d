// Makes, or brings up to date, each Chirp service's own MongoDB user: `<name>`, defined in the
// service's database `chirp_<name>` with readWrite on that database and nothing else. A mongosh
// script (run by the prod overlay's mongodb-users Job, or by hand, see k8s/README.md):
//
//   mongosh "mongodb://admin:…@mongodb-0.mongodb:27017/?replicaSet=rs0" --file create-mongodb-users.js
//
// The services and their passwords are the files of PASSWORDS_DIR (default
// /etc/chirp/mongodb-passwords): one file per service, named after it, holding its password (the
// Job mounts the mongodb-password-<name> Secrets there). Running it again changes only what differs.
const fs = require("fs");

const dir = process.env.PASSWORDS_DIR || "/etc/chirp/mongodb-passwords";
// Kubernetes keeps a Secret volume's own bookkeeping in entries that start with "..".
const services = fs.readdirSync(dir).filter((name) => /^[a-z][a-z0-9-]*$/.test(name)).sort();
if (services.length === 0) throw new Error(`no service passwords in ${dir}`);
for (const name of services) {
  const pwd = fs.readFileSync(`${dir}/${name}`, "utf8").trim();
  if (pwd.length < 16) throw new Error(`${name}: the password must have at least 16 characters`);
  const database = `chirp_${name}`;
  const own = db.getSiblingDB(database);
  const roles = [{ role: "readWrite", db: database }];
  if (own.getUser(name)) own.updateUser(name, { pwd, roles });
  else own.createUser({ user: name, pwd, roles });
  print(`mongodb-users: ${name} may read and write ${database}, and nothing else`);
}
