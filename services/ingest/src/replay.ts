/** MQTT 5 user property naming the dead letter a replayed message comes from (its id is kept). */
export const REPLAY_OF_PROPERTY = 'ondijon-replay-of';
/** MQTT 5 user property carrying the replay count of a replayed message (previous `replays` + 1). */
export const REPLAYS_PROPERTY = 'ondijon-replays';
