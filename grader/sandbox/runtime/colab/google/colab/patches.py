"""``cv2_imshow`` draws the image with matplotlib, as Colab's patch does in a browser."""


def cv2_imshow(image):
    import matplotlib.pyplot as plt

    plt.imshow(image[..., ::-1] if getattr(image, "ndim", 0) == 3 else image, cmap="gray")
    plt.axis("off")
    plt.show()
