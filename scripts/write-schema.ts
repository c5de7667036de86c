/** Writes users/schema.json from the zod schema. Run with `npm run schema`. */
import * as fs from "fs";
import * as path from "path";
import { usersJsonSchema } from "../users/zod-schema";

const target = path.join(__dirname, "..", "users", "schema.json");
fs.writeFileSync(target, `${JSON.stringify(usersJsonSchema(), null, 2)}\n`);
console.log(`wrote ${path.relative(process.cwd(), target)}`);
