// Types of message-validator.generated.js (see generate-validator.ts).
import type { ErrorObject } from "ajv-draft-04";
import type { ApiMessage } from "../shared/contract";

declare const validate: ((data: unknown) => data is ApiMessage) & { errors?: ErrorObject[] | null };
export = validate;
