/**
 * The emoji glyphs each concept-world class is drawn from (Noto Emoji, Apache-2.0, through
 * @iconify-json/noto). Several glyphs per class so that a class is a concept, not one picture.
 */
export const CLASS_GLYPHS = {
  airplane: ['airplane', 'small-airplane', 'airplane-departure', 'airplane-arrival'],
  automobile: ['automobile', 'racing-car', 'taxi', 'police-car', 'sport-utility-vehicle', 'oncoming-automobile'],
  bird: ['bird', 'black-bird', 'dove', 'eagle', 'parrot'],
  cat: ['cat', 'black-cat', 'cat-face', 'grinning-cat'],
  deer: ['deer', 'moose'],
  dog: ['dog', 'dog-face', 'poodle', 'guide-dog'],
  frog: ['frog'],
  horse: ['horse', 'horse-face'],
  ship: ['ship', 'passenger-ship', 'ferry', 'sailboat', 'motor-boat'],
  truck: ['delivery-truck', 'articulated-lorry', 'pickup-truck'],
};
