package io.inferencejobs.inference;

/**
 * An instance mask at the original image's size (after EXIF rotation), as COCO run-length encoding: {@code counts}
 * is the compressed string pycocotools reads ({@code {"size": [height, width], "counts": counts}}); {@code area} is
 * the number of pixels in the mask.
 */
public record Mask(int height, int width, String counts, long area) {
}
