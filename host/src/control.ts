import type { NatsConnection, Subscription } from "@nats-io/transport-node";
import { CONTROL_DATABASE_HEADER, describeError } from "@orderflow/outbox";
import type { Logger } from "pino";
import type { Messaging } from "./messaging.js";

/**
 * Answers `pause` / `resume` on the service's control subject: recovery tooling (`orderflow
 * rebuild`) pauses consumers and relay while it replaces the database. The reply is the state after
 * the command (`paused` / `running`), or `error: …`; a request naming another database than this
 * instance's (`Orderflow-Database`) is answered `refused: …` and changes nothing.
 */
export function listenForControl(
  nc: NatsConnection,
  subject: string,
  messaging: Messaging,
  logger: Logger,
  database: string,
): Subscription {
  return nc.subscribe(subject, {
    callback: (err, msg) => {
      // The server refused the subscription (the user may not subscribe to it): it has ended.
      if (err) {
        logger.error(
          { err: describeError(err), subject },
          "control subscription refused; pause and resume will not be answered",
        );
        return;
      }
      const command = msg.string();
      const aimedAt = msg.headers?.get(CONTROL_DATABASE_HEADER);
      if (aimedAt && aimedAt !== database) {
        msg.respond(`refused: this instance uses database "${database}", not "${aimedAt}"`);
        return;
      }
      const act =
        command === "pause"
          ? messaging.pause()
          : command === "resume"
            ? messaging.resume()
            : Promise.resolve();
      act.then(
        () => msg.respond(messaging.paused ? "paused" : "running"),
        (err: unknown) => {
          logger.error({ err: describeError(err) }, "control request failed");
          msg.respond(`error: ${describeError(err)}`);
        },
      );
    },
  });
}
